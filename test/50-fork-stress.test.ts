// DESIGN.md "Fork": the recipe's stress test stays in CI. 300 requests to a
// ForkingTCPServer whose children each allocate and collect >= 50 MB while
// the parent allocates too. A child's watchdog (alarm) turns a hang into a
// counted failure, and the run itself is bounded by its --deadline.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import * as path from 'node:path';

const root = path.join(__dirname, '..', '..');

interface StressResult {
  requests: number;
  ok: number;
  wrong: number;
  forks: number;
  exited: number;
  hangs: number;
  crashes: number;
  leftChildren: number;
}

describe('fork stress (ForkingTCPServer)', function () {
  this.timeout(240_000);

  it('300 forks, children allocating 50 MB while the parent allocates: 0 hangs, 0 crashes', async () => {
    const script = path.join(root, 'bench', 'fork-stress.js');
    const args = [script, '--forks', '300', '--child-mb', '50', '--concurrency', '4', '--watchdog', '20', '--deadline', '200'];
    const stdout = await new Promise<string>((resolve) => {
      execFile(process.execPath, args, { cwd: root, timeout: 230_000, env: process.env }, (_error, out) => resolve(out));
    });
    const result = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as StressResult;
    expect(result.hangs, 'children killed by the watchdog').to.equal(0);
    expect(result.crashes, 'children that died or exited non-zero').to.equal(0);
    expect(result.wrong, 'wrong replies').to.equal(0);
    expect(result.ok, 'answered requests').to.equal(300);
    expect(result.forks, 'forks').to.equal(300);
    expect(result.exited, 'children reaped').to.equal(300);
    expect(result.leftChildren, 'children left after serverClose()').to.equal(0);
  });
});
