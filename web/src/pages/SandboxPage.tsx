export function SandboxIndex() {
  return null;
}
export function SandboxPage() {
  return null;
}
