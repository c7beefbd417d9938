// Reads vitest's JSON report and prints the closing line CI reads, `N passed, N failed` (with
// `, N skipped` when any test was skipped), as the last line on stdout. Used by .ci/run.
//
// Usage: node scripts/summarize-vitest.mjs <report.json> <vitest exit code>
//
// Exits 1 when anything went wrong: a failed test, a test file that failed outside any test (import
// error, failing beforeAll), a skipped/todo test (in CI a skip hides a failure), no test at all, a
// missing or unreadable report, or a non-zero vitest exit code (unhandled errors and global-setup
// failures appear only there). A run that failed with no failed test in the report counts 1 failed.
// Plain Node ESM with no dependencies.
import { readFileSync } from 'node:fs';

const [reportPath, exitCodeArg] = process.argv.slice(2);
const notes = [];

/** Prints the notes on stderr, then the summary line last on stdout, and sets the exit code. */
function finish({ passed, failed, skipped }) {
  const ok = failed === 0 && skipped === 0 && passed > 0;
  for (const note of notes) process.stderr.write(`summarize-vitest: ${note}\n`);
  process.stdout.write(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}\n`);
  process.exitCode = ok ? 0 : 1;
}

/** Counts the tests in a parsed vitest 4 JSON report (`testResults[].assertionResults[].status`). */
function count(report) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const skippedNames = [];
  for (const file of report.testResults ?? []) {
    let failedInFile = 0;
    for (const test of file.assertionResults ?? []) {
      if (test.status === 'passed') passed += 1;
      else if (test.status === 'failed') failedInFile += 1;
      else {
        // skipped, pending, todo: vitest maps any other state to one of these
        skipped += 1;
        skippedNames.push(`${test.status}: ${file.name} > ${test.fullName}`);
      }
    }
    if (file.status === 'failed' && failedInFile === 0) {
      // The file failed outside any test: import/collection error or a failing hook.
      failedInFile = 1;
      notes.push(
        `test file failed outside its tests: ${file.name}${file.message ? ` (${file.message})` : ''}`,
      );
    }
    failed += failedInFile;
  }
  if (skippedNames.length > 0) {
    notes.push(`${skippedNames.length} test(s) did not run; CI treats that as a failure:`);
    for (const name of skippedNames.slice(0, 30)) notes.push(`  ${name}`);
    if (skippedNames.length > 30) notes.push(`  ... and ${skippedNames.length - 30} more`);
  }
  return { passed, failed, skipped };
}

if (!reportPath || exitCodeArg === undefined || !/^\d+$/.test(exitCodeArg)) {
  notes.push('usage: node scripts/summarize-vitest.mjs <report.json> <vitest exit code>');
  finish({ passed: 0, failed: 1, skipped: 0 });
} else {
  const vitestExitCode = Number(exitCodeArg);
  let report;
  try {
    report = JSON.parse(readFileSync(reportPath, 'utf8'));
  } catch (error) {
    notes.push(
      `no usable vitest JSON report at ${reportPath} (${error.message}); vitest exited ${vitestExitCode}`,
    );
  }
  if (report === undefined) {
    finish({ passed: 0, failed: 1, skipped: 0 });
  } else {
    const counts = count(report);
    if (counts.passed + counts.failed + counts.skipped === 0) {
      notes.push('no test ran (no test file found, or the run stopped before collecting any)');
      counts.failed = 1;
    }
    if (vitestExitCode !== 0 && counts.failed === 0) {
      notes.push(
        `vitest exited ${vitestExitCode} although no test failed: an unhandled error, a global setup/teardown failure or a snapshot failure (see the vitest output above)`,
      );
      counts.failed = 1;
    }
    if (vitestExitCode === 0 && counts.failed > 0) {
      notes.push('vitest exited 0 but its report has failures');
    }
    finish(counts);
  }
}
