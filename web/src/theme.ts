import { createTheme } from '@mantine/core';

// Indigo on white: text and controls keep WCAG AA contrast.
export const theme = createTheme({
  components: { Badge: { defaultProps: { tt: 'none' } } },
  primaryColor: 'indigo',
  defaultRadius: 'sm',
  fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
});
