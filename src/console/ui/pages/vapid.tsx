import { useState } from 'preact/hooks';
import { api, describe } from '../api';

interface Diagnosis {
  accepted: boolean;
  checks: Array<{ name: string; state: string; detail: string }>;
  claims: Record<string, unknown> | null;
  audience: string;
}

export function VapidPage() {
  const [authorization, setAuthorization] = useState('');
  const [diagnosis, setDiagnosis] = useState<Diagnosis | null>(null);
  const [error, setError] = useState('');

  const check = async (event: Event) => {
    event.preventDefault();
    setError('');
    try {
      setDiagnosis(await api<Diagnosis>('POST', '/vapid/check', { authorization }));
    } catch (failure) {
      setError(describe(failure));
    }
  };

  return (
    <section>
      <h1>Check a VAPID signature</h1>
      <p>Paste the Authorization header your sender sends (<code>vapid t=…, k=…</code>): the console runs the checks Herald's endpoint runs and says which one fails.</p>
      {error && <p role="alert" class="error">{error}</p>}
      <form onSubmit={check} id="vapid-check">
        <label>
          Authorization header
          <textarea name="authorization" rows={4} required value={authorization} onInput={(e) => setAuthorization(e.currentTarget.value)} />
        </label>
        <button type="submit">Check</button>
      </form>
      {diagnosis && (
        <div class="notice" id="vapid-result">
          <p><strong>{diagnosis.accepted ? 'Herald would accept this signature.' : 'Herald would refuse this (401 errno 109).'}</strong> Expected aud: <code>{diagnosis.audience}</code></p>
          <ul class="checks">
            {diagnosis.checks.map((each) => (
              <li class={each.state.replace(' ', '-')} data-check={each.name}>
                <strong>{each.name}</strong>: {each.state} — {each.detail}
              </li>
            ))}
          </ul>
          {diagnosis.claims && <pre>{JSON.stringify(diagnosis.claims, null, 2)}</pre>}
        </div>
      )}
    </section>
  );
}
