// Prints one plain closing line, `N passed, N failed, N skipped`, after Jest's own summary, so any CI can read it.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    process.stdout.write(`\nTests: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${results.numPendingTests} skipped\n`);
  }
}
module.exports = SummaryReporter;
