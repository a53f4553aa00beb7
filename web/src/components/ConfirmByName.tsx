// A destructive action confirmed by typing the thing's name (docs/ui.md "States").
import { Button, Group, Modal, Stack, Text, TextInput } from '@mantine/core';
import { type ReactNode, useState } from 'react';

export function ConfirmByName({
  opened,
  title,
  name,
  action,
  children,
  busy,
  onConfirm,
  onClose,
}: {
  opened: boolean;
  title: string;
  name: string;
  action: string;
  children?: ReactNode;
  busy?: boolean;
  onConfirm: () => void;
  onClose: () => void;
}) {
  const [typed, setTyped] = useState('');
  const close = () => {
    setTyped('');
    onClose();
  };
  return (
    <Modal opened={opened} onClose={close} title={title}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (typed === name) onConfirm();
        }}
      >
        <Stack>
          {children}
          <Text size="sm">
            Type <strong>{name}</strong> to confirm.
          </Text>
          <TextInput
            label="Name to confirm"
            value={typed}
            onChange={(e) => setTyped(e.currentTarget.value)}
            data-autofocus
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button color="red" type="submit" disabled={typed !== name} loading={busy}>
              {action}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
