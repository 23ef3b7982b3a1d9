import { useState } from 'preact/hooks';
import { api, describe, when } from '../api';
import type { KeyMemory } from '../keys';
import { MoreButton, usePaged } from '../paged';

export interface App {
  id: string;
  name: string;
  publicKey: string;
  keyHash: string;
  createdAt: number;
  revokedAt: number | null;
  /** In the list only: subscriptions bound to the app's key now. */
  subscriptions?: number;
}

export function AppsPage({ keys }: { keys: KeyMemory }) {
  const [name, setName] = useState('');
  const [created, setCreated] = useState<{ app: App; privateKey: string } | null>(null);
  const [revoking, setRevoking] = useState<App | null>(null);
  const [error, setError] = useState('');
  const paged = usePaged<App>('/apps', 'apps', setError);
  const apps = paged.items;
  const load = paged.reload;

  const create = async (event: Event) => {
    event.preventDefault();
    setError('');
    try {
      const answer = await api<{ app: App; privateKey: string }>('POST', '/apps', { name });
      keys.remember(answer.app.id, answer.privateKey);
      setCreated(answer);
      setName('');
      await load();
    } catch (failure) {
      setError(describe(failure));
    }
  };

  const revoke = async (password: string) => {
    if (!revoking) return;
    setError('');
    try {
      await api('POST', `/apps/${revoking.id}/revoke`, { password });
      setRevoking(null);
      await load();
    } catch (failure) {
      setError(describe(failure));
    }
  };


  return (
    <section>
      <h1>Apps</h1>
      <p>An app is a VAPID key pair your application server signs with. Subscribe with its public key; revoke it and Herald refuses its pushes.</p>
      {error && <p role="alert" class="error">{error}</p>}
      <form onSubmit={create} id="create-app" class="row">
        <label>
          New app name
          <input name="name" required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <button type="submit">Create app</button>
      </form>
      <ImportApp onImported={load} onError={setError} />
      {created && <CreatedApp created={created} />}
      <AppsTable apps={apps} onRevoke={setRevoking} />
      <MoreButton paged={paged} label="More apps" />
      {revoking && <RevokeForm app={revoking} onRevoke={revoke} onCancel={() => setRevoking(null)} />}
    </section>
  );
}

/** Import the public key of a pair made elsewhere; the API checks it is a P-256 point (errno 632). */
function ImportApp({ onImported, onError }: { onImported: () => Promise<void>; onError: (message: string) => void }) {
  const [imported, setImported] = useState({ name: '', publicKey: '', proof: '' });
  const importKey = async (event: Event) => {
    event.preventDefault();
    onError('');
    try {
      await api<{ app: App }>('POST', '/apps/import', imported);
      setImported({ name: '', publicKey: '', proof: '' });
      await onImported();
    } catch (failure) {
      onError(describe(failure));
    }
  };
  return (
    <details>
      <summary>Import a public key made elsewhere</summary>
      <form onSubmit={importKey} id="import-app">
        <label>
          App name
          <input name="name" required maxLength={100} value={imported.name} onInput={(e) => setImported({ ...imported, name: e.currentTarget.value })} />
        </label>
        <label>
          VAPID public key (base64url, 65-byte uncompressed P-256 point)
          <input name="publicKey" required maxLength={1000} spellcheck={false} autocomplete="off" value={imported.publicKey} onInput={(e) => setImported({ ...imported, publicKey: e.currentTarget.value })} />
        </label>
        <label>
          Proof that you hold its private key: an Authorization header your server sends to this Herald (<code>vapid t=…, k=…</code>), or its JWT
          <textarea name="proof" required rows={3} maxLength={4096} spellcheck={false} value={imported.proof} onInput={(e) => setImported({ ...imported, proof: e.currentTarget.value })} />
        </label>
        <button type="submit">Import key</button>
      </form>
    </details>
  );
}

/** The one time a private key is shown: on screen and as a download; Herald keeps neither. */
function CreatedApp({ created }: { created: { app: App; privateKey: string } }) {
  const download = URL.createObjectURL(new Blob([JSON.stringify({ publicKey: created.app.publicKey, privateKey: created.privateKey }, null, 2)], { type: 'application/json' }));
  return (
    <div class="notice" id="created-app">
      <p><strong>{created.app.name}</strong> created. Its private key is shown this once; Herald does not keep it.</p>
      <p>Private key: <code id="private-key">{created.privateKey}</code></p>
      <p><a href={download} download={`${created.app.name}-vapid.json`}>Download the key pair (JSON)</a></p>
    </div>
  );
}

/** Revoking asks for the password again; the field is emptied whatever the answer. */
function RevokeForm({ app, onRevoke, onCancel }: { app: App; onRevoke: (password: string) => Promise<void>; onCancel: () => void }) {
  const [password, setPassword] = useState('');
  const submit = async (event: Event) => {
    event.preventDefault();
    await onRevoke(password);
    setPassword('');
  };
  return (
    <form onSubmit={submit} id="revoke-app" class="notice">
      <p>Revoke <strong>{app.name}</strong>? Every push signed with its key is refused from now on; this cannot be undone here.</p>
      <label>
        Your password, to confirm
        <input type="password" name="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
      </label>
      <button type="submit" class="danger">Revoke key</button>
      <button type="button" onClick={onCancel}>Cancel</button>
    </form>
  );
}

function AppsTable({ apps, onRevoke }: { apps: App[]; onRevoke: (app: App) => void }) {
  return (
    <table id="apps">
      <thead>
        <tr><th>Name</th><th>Public key</th><th>Created</th><th>State</th><th /></tr>
      </thead>
      <tbody>
        {apps.map((app) => (
          <tr key={app.id} data-app={app.id}>
            <td>{app.name}</td>
            <td><code class="key">{app.publicKey}</code></td>
            <td>{when(app.createdAt)}</td>
            <td class="state">{app.revokedAt === null ? 'active' : `revoked ${when(app.revokedAt)}`}<br /><span class="subscriptions">{subscriptionCount(app.subscriptions ?? 0)}</span></td>
            <td>{app.revokedAt === null && <button type="button" onClick={() => onRevoke(app)}>Revoke…</button>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function subscriptionCount(count: number): string {
  return count === 1 ? '1 subscription' : `${count} subscriptions`;
}
