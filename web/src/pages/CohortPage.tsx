export function CohortPage() {
  return null;
}
