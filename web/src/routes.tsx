// Client-side routes: every page lives under /p/<projectId>/ so a link names its project (docs/ui.md).
import { createBrowserRouter, Navigate } from 'react-router';
import { RequireSession, Shell } from './components/Shell';
import { BrazePage } from './pages/BrazePage';
import { Catalog } from './pages/Catalog';
import { CohortPage } from './pages/CohortPage';
import { Cohorts } from './pages/Cohorts';
import { Explain } from './pages/Explain';
import { Home } from './pages/Home';
import { NewCsvCohort } from './pages/NewCsvCohort';
import { NewRulesCohort } from './pages/NewRulesCohort';
import { NotFound } from './pages/NotFound';
import { Projects } from './pages/Projects';
import { RunPage } from './pages/RunPage';
import { SandboxIndex, SandboxPage } from './pages/SandboxPage';
import { Settings } from './pages/Settings';
import { SignIn } from './pages/SignIn';
import { SyncPage } from './pages/SyncPage';
import { Syncs } from './pages/Syncs';
import { SyncWizard } from './pages/SyncWizard';

export const router = createBrowserRouter([
  { path: '/sign-in', element: <SignIn /> },
  {
    element: <RequireSession />,
    children: [
      { path: '/', element: <Home /> },
      {
        element: <Shell />,
        children: [
          { path: '/projects', element: <Projects /> },
          {
            path: '/p/:projectId',
            children: [
              { index: true, element: <Navigate to="syncs" replace /> },
              { path: 'catalog', element: <Catalog /> },
              { path: 'destinations/braze', element: <BrazePage /> },
              { path: 'cohorts', element: <Cohorts /> },
              { path: 'cohorts/new', element: <NewCsvCohort /> },
              { path: 'cohorts/new-rules', element: <NewRulesCohort /> },
              { path: 'cohorts/:cohortId', element: <CohortPage /> },
              { path: 'cohorts/:cohortId/sync', element: <SyncWizard /> },
              { path: 'syncs', element: <Syncs /> },
              { path: 'syncs/:syncId', element: <SyncPage /> },
              { path: 'syncs/:syncId/sandbox', element: <SandboxPage /> },
              { path: 'runs/:runId', element: <RunPage /> },
              { path: 'explain', element: <Explain /> },
              { path: 'settings', element: <Settings /> },
              { path: 'sandbox', element: <SandboxIndex /> },
            ],
          },
          { path: '*', element: <NotFound /> },
        ],
      },
    ],
  },
]);
