import { useState } from 'preact/hooks';
import { api, describe, when } from '../api';
import { MoreButton, usePaged } from '../paged';

interface Session {
  id: string;
  createdAt: number;
  lastUsedAt: number;
  current: boolean;
  kind: 'accounts' | 'console';
}

export function SessionsPage({ onEnded }: { onEnded: () => void }) {
  const [error, setError] = useState('');
  const paged = usePaged<Session>('/sessions', 'sessions', setError);
  const sessions = paged.items;
  const load = paged.reload;

  const end = async (session: Session) => {
    try {
      await api('DELETE', `/sessions/${session.id}`);
      if (session.current) onEnded();
      else await load();
    } catch (failure) {
      setError(describe(failure));
    }
  };

  return (
    <section>
      <h1>Sessions</h1>
      <p>Every session of your account: this console and any client signed in through the accounts API.</p>
      {error && <p role="alert" class="error">{error}</p>}
      <table>
        <thead>
          <tr><th>Session</th><th>Where</th><th>Signed in</th><th>Last used</th><th /></tr>
        </thead>
        <tbody>
          {sessions.map((session) => (
            <tr key={session.id}>
              <td><code>{session.id.slice(0, 8)}</code>{session.current && ' (this one)'}</td>
              <td>{session.kind === 'console' ? 'web console' : 'accounts API'}</td>
              <td>{when(session.createdAt)}</td>
              <td>{when(session.lastUsedAt)}</td>
              <td><button type="button" onClick={() => end(session)}>End</button></td>
            </tr>
          ))}
        </tbody>
      </table>
      <MoreButton paged={paged} label="More sessions" />
    </section>
  );
}
