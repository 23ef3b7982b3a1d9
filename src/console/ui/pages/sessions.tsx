import { useEffect, useState } from 'preact/hooks';
import { api, describe, when } from '../api';

interface Session {
  id: string;
  createdAt: number;
  lastUsedAt: number;
  current: boolean;
}

export function SessionsPage({ onEnded }: { onEnded: () => void }) {
  const [sessions, setSessions] = useState<Session[]>([]);
  const [error, setError] = useState('');
  const load = () => api<{ sessions: Session[] }>('GET', '/sessions').then((answer) => setSessions(answer.sessions), (failure: unknown) => setError(describe(failure)));
  useEffect(() => void load(), []);

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
          <tr><th>Session</th><th>Signed in</th><th>Last used</th><th /></tr>
        </thead>
        <tbody>
          {sessions.map((session) => (
            <tr key={session.id}>
              <td><code>{session.id.slice(0, 8)}</code>{session.current && ' (this one)'}</td>
              <td>{when(session.createdAt)}</td>
              <td>{when(session.lastUsedAt)}</td>
              <td><button type="button" onClick={() => end(session)}>End</button></td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
