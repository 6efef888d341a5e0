/**
 * What the package claims about itself: the Node lines (`engines`, the
 * README, the prebuilt binaries and CI's matrix all come from one list,
 * package.json's config.nodeLines), and the files a user gets.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ROOT } from './helpers';

interface Pkg {
  engines: { node: string };
  files: string[];
  config: { nodeLines: string };
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
}

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Pkg;
const lines = pkg.config.nodeLines.split(/\s+/).filter(Boolean);
const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

describe('the package', () => {
  it('engines names exactly the Node lines that CI tests (config.nodeLines)', () => {
    const majors = pkg.engines.node.split('||').map((range) => /^\s*\^?(\d+)\./.exec(range)?.[1]);
    expect(majors).to.deep.equal(lines);
  });

  it("the README's Node versions line names the same lines", () => {
    const line = readme.split('\n').find((l) => l.startsWith('**Node versions**'));
    expect(line, 'a "**Node versions**" line').to.be.a('string');
    const named = [...readme.slice(readme.indexOf(line as string)).split('\n\n')[0].matchAll(/\b(\d{2})\b/g)].map((m) => m[1]);
    for (const major of lines) expect(named, `the README's Node versions`).to.include(major);
  });

  it('ships the API reference, the prebuilt binaries and the install script, and the README links the reference', () => {
    for (const f of ['docs/', 'prebuilds/', 'scripts/install.js', 'dist/', 'native/', 'binding.gyp']) expect(pkg.files).to.include(f);
    expect(fs.existsSync(path.join(ROOT, 'docs', 'api.md'))).to.equal(true);
    expect(readme).to.include('](docs/api.md)');
    expect(readme).not.to.include('../shared/');
  });

  it('installs with node-gyp-build as a dependency (it finds the prebuilt binary at run time)', () => {
    expect(pkg.dependencies).to.have.property('node-gyp-build');
    expect(pkg.scripts.install).to.equal('node scripts/install.js');
  });
});
