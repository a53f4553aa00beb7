export function SyncWizard() {
  return null;
}
