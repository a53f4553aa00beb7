// Settings: notification recipients and rules, SMTP status with a test mail, the webhook, project tokens.
import {
  Alert,
  Badge,
  Button,
  Code,
  Group,
  List,
  Paper,
  PasswordInput,
  Stack,
  TagsInput,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { ApiError, api } from '../api/client';
import { useProject, useServer, useWebhook } from '../api/queries';
import { QueryState } from '../components/QueryState';
import { TokensPanel } from '../components/Tokens';
import { useProjectId } from '../hooks';
import { useSession } from '../session';

function Recipients({ p }: { p: string }) {
  const project = useProject(p);
  const qc = useQueryClient();
  const [emails, setEmails] = useState<string[]>([]);
  useEffect(() => {
    if (project.data) setEmails(project.data.notificationEmails);
  }, [project.data]);
  const save = useMutation({
    mutationFn: () => api(`/projects/${p}`, { method: 'PATCH', body: { notificationEmails: emails } }),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ['projects'] });
      notifications.show({ color: 'green', message: 'Recipients saved' });
    },
  });
  return (
    <QueryState query={project}>
      {() => (
        <Stack gap="xs">
          <TagsInput
            label="Notification recipients"
            description="Mailed about every sync of the project (each sync can add its own under Alerts)"
            placeholder="name@example.com, then Enter"
            value={emails}
            onChange={setEmails}
            error={save.error instanceof ApiError ? save.error.message : null}
            maw={640}
          />
          <Group>
            <Button onClick={() => save.mutate()} loading={save.isPending}>
              Save
            </Button>
          </Group>
        </Stack>
      )}
    </QueryState>
  );
}

function Mail({ p }: { p: string }) {
  const server = useServer();
  const test = useMutation({
    mutationFn: () =>
      api<{ to: string[]; delivery: 'smtp' | 'log' }>(`/projects/${p}/notifications/test-email`, { method: 'POST' }),
    onSuccess: (r) =>
      notifications.show({
        color: 'green',
        message:
          r.delivery === 'smtp'
            ? `Test mail sent to ${r.to.join(', ')}`
            : `SMTP is off: the test mail to ${r.to.join(', ')} was logged`,
      }),
  });
  const mail = server.data?.mail;
  return (
    <Stack gap="xs">
      <Group gap="xs">
        <Text size="sm">SMTP:</Text>
        {mail ? (
          <Badge color={mail.delivery === 'smtp' ? 'green' : 'gray'} variant="light">
            {mail.delivery === 'smtp' ? `sending as ${mail.from}` : 'not configured (mails are logged)'}
          </Badge>
        ) : null}
      </Group>
      <Group>
        <Button variant="light" onClick={() => test.mutate()} loading={test.isPending}>
          Send test email
        </Button>
      </Group>
      {test.isError ? <Alert color="red">{(test.error as Error).message}</Alert> : null}
    </Stack>
  );
}

function WebhookForm({ p }: { p: string }) {
  const webhook = useWebhook(p);
  const qc = useQueryClient();
  const [url, setUrl] = useState('');
  const [secret, setSecret] = useState('');
  useEffect(() => {
    if (webhook.data) setUrl(webhook.data.url ?? '');
  }, [webhook.data]);
  const save = useMutation({
    mutationFn: () =>
      api(`/projects/${p}/webhook`, { method: 'PUT', body: { url: url.trim(), ...(secret ? { secret } : {}) } }),
    onSuccess: () => {
      setSecret('');
      void qc.invalidateQueries({ queryKey: ['webhook', p] });
      notifications.show({ color: 'green', message: 'Webhook saved' });
    },
  });
  const test = useMutation({
    mutationFn: () =>
      api<{ status: string; lastError: string | null }>(`/projects/${p}/webhook/test`, { method: 'POST' }),
    onSuccess: (d) =>
      notifications.show({
        color: d.status === 'delivered' ? 'green' : 'red',
        message: d.status === 'delivered' ? 'Test event delivered' : `Not delivered: ${d.lastError ?? d.status}`,
      }),
    onError: (e) => notifications.show({ color: 'red', message: (e as Error).message }),
  });
  const fields = save.error instanceof ApiError ? save.error.fieldErrors() : {};
  return (
    <QueryState query={webhook}>
      {(w) => (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            save.mutate();
          }}
        >
          <Stack gap="xs" maw={640}>
            <TextInput
              label="Webhook URL"
              value={url}
              onChange={(e) => setUrl(e.currentTarget.value)}
              error={fields.url ?? (save.isError && !fields.secret ? (save.error as Error).message : null)}
            />
            <PasswordInput
              label="Signing secret"
              description={
                w.secretHint
                  ? `Current secret ····${w.secretHint.replace(/^…/, '')}; leave empty to keep it`
                  : 'At least 16 characters'
              }
              value={secret}
              onChange={(e) => setSecret(e.currentTarget.value)}
              error={fields.secret}
              autoComplete="off"
            />
            <Group>
              <Button type="submit" loading={save.isPending}>
                Save
              </Button>
              {w.url ? (
                <Button variant="light" onClick={() => test.mutate()} loading={test.isPending}>
                  Send test event
                </Button>
              ) : null}
            </Group>
          </Stack>
        </form>
      )}
    </QueryState>
  );
}

export function Settings() {
  const p = useProjectId();
  const { who } = useSession();
  const project = useProject(p);
  const canEdit = who?.kind === 'admin' || who?.role === 'editor';
  return (
    <Stack>
      <Title order={2}>Settings</Title>
      <Paper withBorder p="md">
        <Title order={3} size="h4" mb="xs">
          Notifications
        </Title>
        <Stack>
          <Recipients p={p} />
          <div>
            <Text size="sm" fw={500}>
              Rules
            </Text>
            <List size="sm">
              <List.Item>
                A failed run is mailed at once; while it keeps failing, again at most every few hours (sooner when the
                error changes).
              </List.Item>
              <List.Item>The first success after a failure is mailed at once as a recovery.</List.Item>
              <List.Item>Successful runs are mailed as they finish; real-time runs are folded into a digest.</List.Item>
            </List>
          </div>
          <Mail p={p} />
        </Stack>
      </Paper>
      <Paper withBorder p="md">
        <Title order={3} size="h4" mb="xs">
          Webhook
        </Title>
        <Text size="sm" mb="xs">
          Events run.succeeded, run.failed and run.recovered are POSTed as JSON and signed with the secret.
        </Text>
        <WebhookForm p={p} />
      </Paper>
      {project.data?.ingestKey ? (
        <Paper withBorder p="md">
          <Title order={3} size="h4" mb="xs">
            Ingest key
          </Title>
          <Text size="sm">
            Analytics SDKs send events with <Code>api_key</Code> set to this project's ingest key (shown to editors).
          </Text>
        </Paper>
      ) : null}
      {canEdit ? (
        <Paper withBorder p="md">
          <TokensPanel projectId={p} />
        </Paper>
      ) : null}
    </Stack>
  );
}
