// Reading and changing projects (docs/product.md §1): renaming and notification recipients. Creation and
// tokens live in projects.ts.
import type { Project } from '../domain/model.ts';
import type { Uses } from './deps.ts';
import { invalid, notFound } from './errors.ts';
import { requireProject } from './projects.ts';

/** Every project, or only those named (what a project token can see). */
export async function listProjects(deps: Uses<never, 'projects'>, only?: readonly string[]): Promise<Project[]> {
  return deps.store.projects.list(only);
}

export interface ProjectPatch {
  readonly name?: string;
  readonly notificationEmails?: readonly string[];
}

// Deliberately simple: the mail server is the judge of deliverability; this catches typos like "a@b".
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function checkEmails(emails: readonly string[], path: string): { path: string; message: string }[] {
  return emails.flatMap((e, i) =>
    EMAIL.test(e) ? [] : [{ path: `${path}[${i}]`, message: `${JSON.stringify(e)} is not an email address` }],
  );
}

export async function updateProject(
  deps: Uses<'clock', 'projects'>,
  projectId: string,
  patch: ProjectPatch,
): Promise<Project> {
  await requireProject(deps, projectId);
  const problems: { path: string; message: string }[] = [];
  const name = patch.name?.trim();
  if (name !== undefined && !name) problems.push({ path: 'name', message: 'a project needs a name' });
  if (patch.notificationEmails) problems.push(...checkEmails(patch.notificationEmails, 'notificationEmails'));
  if (problems.length > 0) throw invalid(problems);
  const updated = await deps.store.projects.update(
    projectId,
    {
      ...(name !== undefined ? { name } : {}),
      // A recipient listed twice would get every notification twice.
      ...(patch.notificationEmails
        ? { notificationEmails: [...new Set(patch.notificationEmails.map((e) => e.trim()))] }
        : {}),
    },
    deps.clock.now().toISOString(),
  );
  if (!updated) throw notFound('project', projectId);
  return updated;
}
