export function SyncPage() {
  return null;
}
