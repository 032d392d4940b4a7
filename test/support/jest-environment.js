// Node's Jest environment, plus one thing: when a test fails, whatever the suite registered as
// globalThis.__mserveOnFailure runs before the test's afterEach hooks close anything (the browser suites keep a
// screenshot of every open page that way: see test/support/browser.ts).
const { TestEnvironment } = require('jest-environment-node');

class MServeEnvironment extends TestEnvironment {
  async handleTestEvent(event) {
    if (event.name !== 'test_fn_failure') return;
    const onFailure = this.global.__mserveOnFailure;
    if (typeof onFailure !== 'function') return;
    try {
      await onFailure(event.test.name);
    } catch (error) {
      process.stderr.write(`[test infra] failure hook: ${error}\n`);
    }
  }
}

module.exports = MServeEnvironment;
