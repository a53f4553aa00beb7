export function Cohorts() {
  return null;
}
