export function NewCsvCohort() {
  return null;
}
