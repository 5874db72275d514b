// The app's frame: connection banner, routes, navigation. Signed-out visitors see sign in / sign up only.
import type { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { connection } from './client';
import { startLive, stopLive } from './live';
import { navigate, onLinkClick, useLocation } from './router';
import { session } from './session';
import { useStore } from './store';
import { SignInScreen, SignUpScreen } from './screens/auth';
import { HomeScreen } from './screens/home';

/** Screens not needed for the first paint are separate chunks. */
function lazy<P extends object = {}>(load: () => Promise<ComponentType<P>>): ComponentType<P> {
  let loaded: ComponentType<P> | null = null;
  return function Lazy(props: P) {
    const [Component, setComponent] = useState<ComponentType<P> | null>(() => loaded);
    useEffect(() => {
      if (!Component) void load().then((component) => setComponent(() => (loaded = component)));
    }, []);
    return Component ? <Component {...props} /> : <p class="muted page">Loading…</p>;
  };
}
const SendScreen = lazy(() => import('./screens/send').then((module) => module.SendScreen));
const AddMoneyScreen = lazy(() => import('./screens/add-money').then((module) => module.AddMoneyScreen));
const AddMoneyReturnScreen = lazy(() => import('./screens/add-money').then((module) => module.AddMoneyReturnScreen));
const WithdrawScreen = lazy(() => import('./screens/withdraw').then((module) => module.WithdrawScreen));
const ActivityScreen = lazy(() => import('./screens/activity').then((module) => module.ActivityScreen));
const TransactionScreen = lazy<{ id: string }>(() => import('./screens/activity').then((module) => module.TransactionScreen));
const InsightsScreen = lazy(() => import('./screens/insights').then((module) => module.InsightsScreen));
const StatementScreen = lazy(() => import('./screens/statement').then((module) => module.StatementScreen));
const SettingsScreen = lazy(() => import('./screens/settings').then((module) => module.SettingsScreen));

function ConnectionBanner() {
  const status = useStore(connection);
  const [online, setOnline] = useState(navigator.onLine);
  useEffect(() => {
    const update = () => setOnline(navigator.onLine);
    window.addEventListener('online', update);
    window.addEventListener('offline', update);
    return () => {
      window.removeEventListener('online', update);
      window.removeEventListener('offline', update);
    };
  }, []);
  const text = !online || status === 'offline' ? 'You are offline. Balances shown are the last ones the server sent.'
    : status === 'reconnecting' ? 'Reconnecting… Live updates will resume where they stopped.'
    : null;
  return <div class={`banner ${text ? 'shown' : ''}`} role="status" aria-live="polite" data-testid="connection" data-state={online ? status : 'offline'}>{text}</div>;
}

const tabs: Array<[string, string]> = [['/', 'Home'], ['/activity', 'Activity'], ['/insights', 'Insights'], ['/settings', 'Settings']];

function Nav(props: { path: string }) {
  return (
    <nav class="tabs" aria-label="Main">
      {tabs.map(([href, label]) => {
        const current = href === '/' ? props.path === '/' : props.path.startsWith(href);
        return <a key={href} href={href} aria-current={current ? 'page' : undefined}>{label}</a>;
      })}
    </nav>
  );
}

function route(path: string): preact.JSX.Element {
  if (path === '/send') return <SendScreen />;
  if (path === '/add-money') return <AddMoneyScreen />;
  if (path === '/add-money/return') return <AddMoneyReturnScreen />;
  if (path === '/withdraw') return <WithdrawScreen />;
  if (path === '/activity') return <ActivityScreen />;
  const detail = /^\/activity\/([0-9a-f-]{36})$/i.exec(path);
  if (detail) return <TransactionScreen key={detail[1]} id={detail[1]!} />;
  if (path === '/insights') return <InsightsScreen />;
  if (path === '/statement') return <StatementScreen />;
  if (path === '/settings') return <SettingsScreen />;
  return <HomeScreen />;
}

export function App() {
  const current = useStore(session);
  const { path, search } = useLocation();
  const publicPath = path === '/signin' || path === '/signup';
  useEffect(() => {
    if (current) startLive();
    else stopLive();
  }, [current?.token]);
  useEffect(() => {
    if (!current && !publicPath) navigate(`/signin${path === '/' ? '' : `?next=${encodeURIComponent(path + search)}`}`, { replace: true });
    if (current && publicPath) navigate('/', { replace: true });
  }, [current, publicPath]);
  return (
    <div class="app" onClick={onLinkClick}>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <a class="brand" href="/" aria-label="ZenPAY home"><img src="/icons/icon.svg" alt="" width="28" height="28" /> ZenPAY</a>
        {current && <Nav path={path} />}
      </header>
      {current && <ConnectionBanner />}
      <main id="main">
        {current ? (publicPath ? null : route(path)) : path === '/signup' ? <SignUpScreen /> : <SignInScreen />}
      </main>
    </div>
  );
}
