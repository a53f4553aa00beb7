// React Query hooks over the API: one key per resource, so a change invalidates exactly what shows it.
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, qs } from './client';
import type {
  Cohort,
  DayOfRuns,
  Destination,
  Member,
  Page,
  Project,
  ProjectToken,
  Run,
  SandboxView,
  ServerInfo,
  Sync,
  Webhook,
} from './types';

const running = (run: Run | undefined) => run?.status === 'queued' || run?.status === 'running';

export const useServer = () => useQuery({ queryKey: ['server'], queryFn: () => api<ServerInfo>('/server') });
export const useProjects = () =>
  useQuery({ queryKey: ['projects'], queryFn: () => api<Page<Project>>('/projects?limit=500') });
export const useProject = (p: string) =>
  useQuery({ queryKey: ['projects', p], queryFn: () => api<Project>(`/projects/${p}`) });
export const useTokens = (p: string) =>
  useQuery({ queryKey: ['tokens', p], queryFn: () => api<Page<ProjectToken>>(`/projects/${p}/tokens`) });
export const useDestination = (p: string) =>
  useQuery({ queryKey: ['destination', p], queryFn: () => api<Destination>(`/projects/${p}/destinations/braze`) });
export const useCohorts = (p: string) =>
  useQuery({ queryKey: ['cohorts', p], queryFn: () => api<Page<Cohort>>(`/projects/${p}/cohorts?limit=500`) });
export const useCohort = (p: string, c: string) =>
  useQuery({
    queryKey: ['cohorts', p, c],
    queryFn: () => api<Cohort>(`/projects/${p}/cohorts/${c}`),
    enabled: Boolean(c),
  });
export const useMembers = (p: string, c: string, limit = 50) =>
  useQuery({
    queryKey: ['members', p, c, limit],
    queryFn: () => api<Page<Member>>(`/projects/${p}/cohorts/${c}/members?limit=${limit}`),
  });

export const useSyncs = (p: string) =>
  useQuery({
    queryKey: ['syncs', p],
    queryFn: () => api<Page<Sync>>(`/projects/${p}/syncs?limit=1000`),
    refetchInterval: (q) => (q.state.data?.items.some((s) => running(s.lastRun)) ? 2000 : 15000),
  });
export const useSync = (p: string, s: string) =>
  useQuery({
    queryKey: ['syncs', p, s],
    queryFn: () => api<Sync>(`/projects/${p}/syncs/${s}`),
    enabled: Boolean(s),
    refetchInterval: (q) => (running(q.state.data?.lastRun) ? 1500 : 10000),
  });
export const useSyncRuns = (p: string, s: string) =>
  useQuery({
    queryKey: ['runs', p, s],
    queryFn: () => api<Page<Run>>(`/projects/${p}/syncs/${s}/runs?limit=100`),
    refetchInterval: (q) => (q.state.data?.items.some(running) ? 1500 : 10000),
  });
export const useRun = (p: string, r: string) =>
  useQuery({
    queryKey: ['run', p, r],
    queryFn: () => api<Run>(`/projects/${p}/runs/${r}`),
    refetchInterval: (q) => (running(q.state.data) ? 1000 : false),
  });
export const useRunsPerDay = (p: string, days = 14) =>
  useQuery({
    queryKey: ['runs-per-day', p, days],
    queryFn: () => api<{ days: DayOfRuns[] }>(`/projects/${p}/runs-per-day${qs({ days })}`),
    placeholderData: keepPreviousData,
  });
export const useSandboxView = (p: string, s: string) =>
  useQuery({
    queryKey: ['sandbox-view', p, s],
    queryFn: () => api<SandboxView>(`/projects/${p}/syncs/${s}/sandbox`),
    refetchInterval: 5000,
  });
export const useWebhook = (p: string) =>
  useQuery({ queryKey: ['webhook', p], queryFn: () => api<Webhook>(`/projects/${p}/webhook`) });
