import { useEffect, useState } from 'preact/hooks';
import { api, describe } from '../api';
import type { KeyMemory } from '../keys';
import type { App } from './apps';

interface PushAnswer {
  status: number;
  location: string | null;
  error: { errno: number; message: string } | null;
}

export function SendPage({ keys }: { keys: KeyMemory }) {
  const [apps, setApps] = useState<App[]>([]);
  const [appId, setAppId] = useState('');
  const [privateKey, setPrivateKey] = useState('');
  const [subscription, setSubscription] = useState('');
  const [text, setText] = useState('Hello from the Herald console');
  const [result, setResult] = useState<PushAnswer | null>(null);
  const [state, setState] = useState('');
  const [error, setError] = useState('');

  useEffect(() => {
    api<{ apps: App[] }>('GET', '/apps').then((answer) => setApps(answer.apps), (failure: unknown) => setError(describe(failure)));
  }, []);

  const pick = (id: string) => {
    setAppId(id);
    setPrivateKey(keys.get(id));
  };

  const send = async (event: Event) => {
    event.preventDefault();
    setError('');
    setResult(null);
    setState('');
    try {
      const answer = await api<PushAnswer>('POST', '/push', { subscription, text, ...(appId ? { appId, privateKey } : {}) });
      setResult(answer);
      if (answer.location) await watch(answer.location);
    } catch (failure) {
      setError(describe(failure));
    }
  };

  const watch = async (location: string) => {
    for (let round = 0; round < 20; round += 1) {
      const answer = await api<{ status: string | null; httpStatus: number }>('GET', `/push/status?location=${encodeURIComponent(location)}`);
      if (answer.status === 'gone') return setState('delivered (the device acknowledged it, or it expired)');
      setState(answer.status === 'pending' ? 'accepted, waiting for the device…' : `HTTP ${answer.httpStatus}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  };

  return (
    <section>
      <h1>Send a test push</h1>
      <p>Paste a subscription (the JSON of <code>PushSubscription.toJSON()</code>) from this Herald; the console encrypts and sends it as your application server would.</p>
      {error && <p role="alert" class="error">{error}</p>}
      <form onSubmit={send} id="send-push">
        <label>
          Subscription JSON
          <textarea name="subscription" rows={5} required value={subscription} onInput={(e) => setSubscription(e.currentTarget.value)} />
        </label>
        <label>
          Text
          <input name="text" maxLength={3993} value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </label>
        <label>
          Sign with app (VAPID)
          <select name="app" value={appId} onChange={(e) => pick(e.currentTarget.value)}>
            <option value="">none (v1 endpoints only)</option>
            {apps.map((app) => <option value={app.id}>{app.name}{app.revokedAt !== null ? ' (revoked)' : ''}</option>)}
          </select>
        </label>
        {appId && (
          <label>
            The app's private key (kept in this tab only after creating it)
            <input name="privateKey" type="password" autocomplete="off" value={privateKey} onInput={(e) => setPrivateKey(e.currentTarget.value)} />
          </label>
        )}
        <button type="submit">Send</button>
      </form>
      {result && (
        <div class="notice" id="push-result">
          <p>Herald answered <strong id="push-status">{result.status}</strong>{result.status === 201 ? ': accepted' : ': refused'}</p>
          {result.error && <p id="push-error">errno {result.error.errno}: {result.error.message} (see docs/errors.md)</p>}
          {state && <p id="push-state">{state}</p>}
        </div>
      )}
    </section>
  );
}
