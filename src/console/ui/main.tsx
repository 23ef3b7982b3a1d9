import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, describe, loadSession, type Account } from './api';
import { AppsPage } from './pages/apps';
import { ChartsPage } from './pages/charts';
import { OperatorPage } from './pages/operator';
import { SendPage } from './pages/send';
import { SessionsPage } from './pages/sessions';
import { SignInPage } from './pages/sign-in';
import { VapidPage } from './pages/vapid';
import { KeyMemory } from './keys';

const PAGES = [
  { id: 'apps', title: 'Apps' },
  { id: 'charts', title: 'Charts' },
  { id: 'send', title: 'Test push' },
  { id: 'vapid', title: 'VAPID check' },
  { id: 'sessions', title: 'Sessions' },
  { id: 'operator', title: 'Operator', role: 'operator' },
] as const;
type PageId = (typeof PAGES)[number]['id'];

function currentPage(): PageId {
  const id = location.hash.replace(/^#\/?/, '');
  return (PAGES.find((page) => page.id === id)?.id ?? 'apps') as PageId;
}

function Console() {
  const [account, setAccount] = useState<Account | null | undefined>(undefined);
  const [page, setPage] = useState<PageId>(currentPage());
  const [error, setError] = useState('');
  const [keys] = useState(() => new KeyMemory());

  useEffect(() => {
    loadSession().then(setAccount, (failure: unknown) => setError(describe(failure)));
    const onHash = () => setPage(currentPage());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  const signOut = async () => {
    try {
      await api('DELETE', '/session');
      keys.clear();
      setAccount(await loadSession());
    } catch (failure) {
      setError(describe(failure));
    }
  };

  if (account === undefined) return <main><p>{error || 'Loading…'}</p></main>;
  if (account === null) return <SignInPage onSignedIn={setAccount} />;
  const visible = PAGES.filter((each) => !('role' in each) || account.roles.includes(each.role));
  return (
    <div class="shell">
      <header>
        <strong>Herald</strong>
        <nav aria-label="Pages">
          {visible.map((each) => (
            <a href={`#/${each.id}`} aria-current={page === each.id ? 'page' : undefined} data-page={each.id}>
              {each.title}
            </a>
          ))}
        </nav>
        <span class="who">{account.email}</span>
        <button type="button" onClick={signOut} id="sign-out">Sign out</button>
      </header>
      <main>
        {error && <p role="alert" class="error">{error}</p>}
        {page === 'apps' && <AppsPage keys={keys} />}
        {page === 'charts' && <ChartsPage />}
        {page === 'send' && <SendPage keys={keys} />}
        {page === 'vapid' && <VapidPage />}
        {page === 'sessions' && <SessionsPage onEnded={async () => setAccount(await loadSession())} />}
        {page === 'operator' && account.roles.includes('operator') && <OperatorPage />}
      </main>
    </div>
  );
}

const root = document.getElementById('app');
if (root) render(<Console />, root);
