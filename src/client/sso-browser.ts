/**
 * The browser half of the relying-party kit (docs/sso.md), as a script the relying app serves as a
 * file of its own origin (say at /herald-sso.js, so its CSP needs no inline script):
 *
 *   const signedIn = await HeraldSso.frameSignIn({ accountsOrigin: 'https://accounts.example.com', backend: '/sso/recover' });
 *
 * It frames the accounts server's frame page, accepts messages only from the accounts origin and
 * from that frame, posts the sealed payload to the app's own back end and resolves true on 204.
 * Cross-site apps use the redirect instead (SsoRelyingParty.startRedirect on the back end).
 */
export const SSO_BROWSER_SCRIPT = `'use strict';
window.HeraldSso = {
  frameSignIn: function (options) {
    var accountsOrigin = new URL(options.accountsOrigin).origin;
    var timeoutMs = options.timeoutMs || 5000;
    return new Promise(function (resolve) {
      var frame = document.createElement('iframe');
      var done = false;
      function finish(result) {
        if (done) return;
        done = true;
        window.removeEventListener('message', onMessage);
        frame.remove();
        resolve(result);
      }
      function onMessage(event) {
        if (event.origin !== accountsOrigin || event.source !== frame.contentWindow || !event.data) return;
        if (event.data.type === 'herald-sso-ready') {
          frame.contentWindow.postMessage({ type: 'herald-sso-recover' }, accountsOrigin);
        } else if (event.data.type === 'herald-sso-payload') {
          fetch(options.backend, {
            method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ recoveryPayload: event.data.recoveryPayload })
          }).then(function (response) { finish(response.status === 204); }, function () { finish(false); });
        } else if (event.data.type === 'herald-sso-none') {
          finish(false);
        }
      }
      window.addEventListener('message', onMessage);
      frame.hidden = true;
      frame.src = accountsOrigin + '/v1/sso/frame';
      document.body.appendChild(frame);
      setTimeout(function () { finish(false); }, timeoutMs);
    });
  }
};
`;
