import { useEffect } from 'preact/hooks';
import { ErrorBoundary, lazy, LocationProvider, Route, Router } from 'preact-iso';
import { refreshSession, session } from './api';
import { Layout } from './components/layout';
import { Home } from './pages/home';
import { Login } from './pages/login';
import { BrowseKey } from './pages/browse-key';
import { NotFound } from './pages/not-found';

// Pages load on first visit: the charting library and the upload client stay out of the first paint.
const Containers = lazy(() => import('./pages/containers'));
const Container = lazy(() => import('./pages/container'));
const Service = lazy(() => import('./pages/service'));
const Mfile = lazy(() => import('./pages/mfile'));
const Job = lazy(() => import('./pages/job'));
const Keys = lazy(() => import('./pages/keys'));
const ServiceSettings = lazy(() => import('./pages/service-settings'));
const ServiceJobs = lazy(() => import('./pages/service-jobs'));
const Usage = lazy(() => import('./pages/usage'));
const Queues = lazy(() => import('./pages/queues'));
const Account = lazy(() => import('./pages/account'));

export function App() {
  useEffect(() => {
    void refreshSession().catch(() => undefined);
  }, []);
  if (!session.value)
    return (
      <p class="loading" role="status">
        Loading MServe…
      </p>
    );
  return (
    // links into the API (downloads, the OpenID Connect redirect) are real page loads, not client routes
    <LocationProvider scope={/^\/(?!api\/|dav\/)/}>
      <ErrorBoundary>
        <Layout>
          <Router>
            <Route path="/" component={Home} />
            <Route path="/login" component={Login} />
            <Route path="/browse/:key" component={BrowseKey} />
            <Route path="/containers" component={Containers} />
            <Route path="/containers/:id" component={Container} />
            <Route path="/containers/:id/usage" component={Usage} />
            <Route path="/services/:id" component={Service} />
            <Route path="/services/:id/folders/:folderId" component={Service} />
            <Route path="/mfolders/:folderId" component={Service} />
            <Route path="/services/:id/settings" component={ServiceSettings} />
            <Route path="/services/:id/jobs" component={ServiceJobs} />
            <Route path="/services/:id/usage" component={Usage} />
            <Route path="/mfiles/:id" component={Mfile} />
            <Route path="/jobs/:id" component={Job} />
            <Route path="/keys" component={Keys} />
            <Route path="/usage" component={Usage} />
            <Route path="/queues" component={Queues} />
            <Route path="/account" component={Account} />
            <Route default component={NotFound} />
          </Router>
        </Layout>
      </ErrorBoundary>
    </LocationProvider>
  );
}
