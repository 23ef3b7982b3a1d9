import { useEffect, useState } from 'preact/hooks';
import { api, describe } from '../api';
import { LineChart } from '../chart';
import { REFRESH_MS, useVisiblePolling } from '../polling';
import type { App } from './apps';

interface Bucket {
  start: number;
  accepted: number;
  delivered: number;
  stored: number;
  expired: number;
  refused: number;
  p50Ms: number | null;
  p99Ms: number | null;
}
type Range = 'hours' | 'days';

export function ChartsPage() {
  const [apps, setApps] = useState<App[]>([]);
  const [appId, setAppId] = useState('');
  const [range, setRange] = useState<Range>('hours');
  const [buckets, setBuckets] = useState<Bucket[]>([]);
  const [updated, setUpdated] = useState<number | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    api<{ apps: App[] }>('GET', '/apps?limit=100').then(
      (answer) => {
        setApps(answer.apps);
        setAppId((current) => current || answer.apps[0]?.id || '');
      },
      (failure: unknown) => setError(describe(failure)),
    );
  }, []);
  useVisiblePolling(() => {
    if (!appId) return;
    api<{ buckets: Bucket[] }>('GET', `/apps/${appId}/stats?range=${range}`).then(
      (answer) => {
        setBuckets(answer.buckets);
        setUpdated(Date.now());
        setError('');
      },
      (failure: unknown) => setError(describe(failure)),
    );
  }, [appId, range]);

  const labels = buckets.map((bucket) => label(bucket.start, range));
  return (
    <section>
      <h1>Charts</h1>
      <p>Per app: messages accepted, delivered (acknowledged by the device), stored for a device away, expired (TTL 0 with the device away, or past their TTL in storage before the device fetched them) and refused after the app's signature checked; and the time from the push's arrival to the device's acknowledgement. Refreshes every {REFRESH_MS / 1000} s while this page is visible.</p>
      {error && <p role="alert" class="error">{error}</p>}
      <ChartOptions apps={apps} appId={appId} range={range} onApp={setAppId} onRange={setRange} />
      {apps.length === 0 && <p>No apps yet: create or import one on the Apps page.</p>}
      {buckets.length > 0 && (
        <div id="charts">
          <LineChart
            title="Messages"
            labels={labels}
            series={[
              { name: 'accepted', tone: 't-accepted', values: buckets.map((b) => b.accepted) },
              { name: 'delivered', tone: 't-delivered', values: buckets.map((b) => b.delivered) },
              { name: 'stored', tone: 't-stored', values: buckets.map((b) => b.stored) },
              { name: 'expired', tone: 't-expired', values: buckets.map((b) => b.expired) },
              { name: 'refused', tone: 't-refused', values: buckets.map((b) => b.refused) },
            ]}
          />
          <LineChart
            title="Delivery latency (ms, upper bound of the histogram bucket)"
            labels={labels}
            summary="latest"
            series={[
              { name: 'p50', tone: 't-delivered', values: buckets.map((b) => b.p50Ms) },
              { name: 'p99', tone: 't-refused', values: buckets.map((b) => b.p99Ms) },
            ]}
          />
          <p class="updated" aria-live="polite">Updated {updated === null ? '—' : new Date(updated).toLocaleTimeString()}</p>
        </div>
      )}
    </section>
  );
}

function ChartOptions(props: { apps: App[]; appId: string; range: Range; onApp: (id: string) => void; onRange: (range: Range) => void }) {
  const { apps, appId, range } = props;
  return (
    <form class="row" id="chart-options" onSubmit={(event) => event.preventDefault()}>
      <label>
        App
        <select name="app" value={appId} onChange={(event) => props.onApp(event.currentTarget.value)}>
          {apps.map((app) => <option key={app.id} value={app.id}>{app.name}</option>)}
        </select>
      </label>
      <fieldset class="range">
        <legend>Per</legend>
        {(['hours', 'days'] as const).map((each) => (
          <label key={each} class="inline">
            <input type="radio" name="range" value={each} checked={range === each} onChange={() => props.onRange(each)} /> {each === 'hours' ? 'hour (48 h)' : 'day (30 days)'}
          </label>
        ))}
      </fieldset>
    </form>
  );
}

function label(start: number, range: Range): string {
  const date = new Date(start);
  return range === 'hours' ? `${String(date.getHours()).padStart(2, '0')}h` : `${date.getMonth() + 1}/${date.getDate()}`;
}
