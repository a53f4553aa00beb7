// Runs the whole suite with vitest and says plainly whether the PostgreSQL suite ran.
import { spawnSync } from 'node:child_process';

if (!process.env.TEST_DATABASE_URL) {
  console.log('PostgreSQL suite skipped: TEST_DATABASE_URL is not set (SQLite suite runs).');
} else {
  console.log(`PostgreSQL suite runs against ${process.env.TEST_DATABASE_URL.replace(/\/\/[^@]*@/, '//***@')}`);
}
const result = spawnSync('npx', ['vitest', 'run', ...process.argv.slice(2)], { stdio: 'inherit' });
if (!process.env.TEST_DATABASE_URL) {
  console.log('Note: PostgreSQL suite was skipped (set TEST_DATABASE_URL to run it).');
}
process.exit(result.status ?? 1);
