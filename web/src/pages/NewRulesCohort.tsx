export function NewRulesCohort() {
  return null;
}
