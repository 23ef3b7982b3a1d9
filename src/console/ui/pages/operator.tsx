import { useState } from 'preact/hooks';
import { api, describe, when } from '../api';
import { MoreButton, usePaged, type Paged } from '../paged';
import { useVisiblePolling } from '../polling';

interface Node { id: number; service: string; url: string; capacity: number; currentLoad: number; downed: boolean }
interface Ban { source: string; reason: string; remainingSeconds: number }
interface Blocked { keyHash: string; source: string; reason: string; blockedAt: number }
interface Overview {
  devices: Record<string, number>;
  messages: Record<string, number | null>;
  blocklist: { total: number };
}

export function OperatorPage() {
  const [overview, setOverview] = useState<Overview | null>(null);
  const [lifting, setLifting] = useState('');
  const [error, setError] = useState('');
  const nodes = usePaged<Node>('/operator/nodes', 'nodes', setError);
  const bans = usePaged<Ban>('/operator/bans', 'bans', setError);
  const blocked = usePaged<Blocked>('/operator/blocklist', 'blocklist', setError);
  const load = () => api<Overview>('GET', '/operator/overview').then(setOverview, (failure: unknown) => setError(describe(failure)));
  useVisiblePolling(() => void load(), []);

  const lift = async (password: string) => {
    try {
      await api('POST', '/operator/bans/lift', { source: lifting, password });
      setLifting('');
      await Promise.all([load(), bans.reload()]);
    } catch (failure) {
      setError(describe(failure));
    }
  };

  if (!overview) return <section><h1>Operator</h1><p>{error || 'Loading…'}</p></section>;
  return (
    <section>
      <h1>Operator</h1>
      {error && <p role="alert" class="error">{error}</p>}
      <h2>Devices and messages (counts only)</h2>
      <dl class="stats">
        {Object.entries({ ...overview.devices, ...overview.messages }).map(([name, value]) => (
          <div><dt>{name}</dt><dd>{value ?? '—'}</dd></div>
        ))}
      </dl>
      <h2>Nodes</h2>
      <table>
        <thead><tr><th>Service</th><th>URL</th><th>Load</th><th>State</th></tr></thead>
        <tbody>
          {nodes.items.map((node) => (
            <tr><td>{node.service}</td><td>{node.url}</td><td>{node.currentLoad} / {node.capacity}</td><td>{node.downed ? 'down' : 'up'}</td></tr>
          ))}
        </tbody>
      </table>
      <MoreButton paged={nodes} label="More nodes" />
      <h2>Bans</h2>
      <table>
        <thead><tr><th>Source</th><th>Reason</th><th>Remaining</th><th /></tr></thead>
        <tbody>
          {bans.items.map((ban) => (
            <tr><td>{ban.source}</td><td>{ban.reason}</td><td>{ban.remainingSeconds} s</td><td><button type="button" onClick={() => setLifting(ban.source)}>Lift…</button></td></tr>
          ))}
        </tbody>
      </table>
      <MoreButton paged={bans} label="More bans" />
      {lifting && <LiftForm source={lifting} onLift={lift} onCancel={() => setLifting('')} />}
      <Blocklist total={overview.blocklist.total} paged={blocked} />
    </section>
  );
}

/** Newest first, a page at a time: an operator's blocklist can hold many thousand keys. */
function Blocklist({ total, paged }: { total: number; paged: Paged<Blocked> }) {
  return (
    <>
      <h2>Sender blocklist ({total})</h2>
      <table>
        <thead><tr><th>Key hash</th><th>By</th><th>Reason</th><th>When</th></tr></thead>
        <tbody>
          {paged.items.map((entry) => (
            <tr><td><code class="key">{entry.keyHash}</code></td><td>{entry.source}</td><td>{entry.reason}</td><td>{when(entry.blockedAt)}</td></tr>
          ))}
        </tbody>
      </table>
      <MoreButton paged={paged} label="More blocked keys" />
    </>
  );
}

/** Lifting a ban asks for the password again; the field is emptied whatever the answer. */
function LiftForm({ source, onLift, onCancel }: { source: string; onLift: (password: string) => Promise<void>; onCancel: () => void }) {
  const [password, setPassword] = useState('');
  const submit = async (event: Event) => {
    event.preventDefault();
    await onLift(password);
    setPassword('');
  };
  return (
    <form onSubmit={submit} class="notice">
      <p>Lift the ban on <code>{source}</code>?</p>
      <label>Your password, to confirm<input type="password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} /></label>
      <button type="submit" class="danger">Lift ban</button>
      <button type="button" onClick={onCancel}>Cancel</button>
    </form>
  );
}
