export function Syncs() {
  return null;
}
