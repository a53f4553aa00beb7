// Sign in with the admin token or a project token (api.md "Authentication").
import { Alert, Button, Center, Paper, PasswordInput, Stack, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { Navigate, useLocation, useNavigate } from 'react-router';
import { useSession } from '../session';

export function SignIn() {
  const { token, signIn, reason } = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const from = (location.state as { from?: string } | null)?.from ?? '/';
  if (token) return <Navigate to={from} replace />;
  return (
    <Center mih="100vh" bg="gray.0">
      <Paper withBorder shadow="sm" p="xl" w={420} component="main">
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            if (!value.trim()) {
              setError('Paste the admin token or a project token');
              return;
            }
            setBusy(true);
            try {
              await signIn(value);
              navigate(from, { replace: true });
            } catch (err) {
              setError((err as Error).message);
            } finally {
              setBusy(false);
            }
          }}
        >
          <Stack>
            <Title order={1} size="h3">
              Sign in to cohort-sync
            </Title>
            {reason ? (
              <Alert color="orange" role="status">
                {reason}
              </Alert>
            ) : null}
            <Text size="sm" c="dimmed">
              Use the admin token (printed at first start, kept in data/admin-token) or a project token.
            </Text>
            <PasswordInput
              label="Token"
              value={value}
              onChange={(e) => {
                setValue(e.currentTarget.value);
                setError(null);
              }}
              error={error}
              autoComplete="off"
              data-autofocus
            />
            <Button type="submit" loading={busy}>
              Sign in
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
