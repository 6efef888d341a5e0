#!/usr/bin/env node
// prepack: a tarball must carry a prebuilt addon for every Node line that
// package.json's config.nodeLines names (npm run prebuilds makes them), so
// that it installs without a compiler. Checked by ABI, reading each line's
// ABI from the Node that scripts/node-line.sh installs.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const lines = require(path.join(root, 'package.json')).config.nodeLines.split(/\s+/).filter(Boolean);
const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const have = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
const missing = [];
for (const major of lines) {
  const nodeDir = execFileSync('bash', [path.join(root, 'scripts', 'node-line.sh'), major], { encoding: 'utf8' }).trim();
  const abi = execFileSync(path.join(nodeDir, 'bin', 'node'), ['-p', 'process.versions.modules'], { encoding: 'utf8' }).trim();
  if (!have.some((f) => f.split('.').includes(`abi${abi}`))) missing.push(`Node ${major} (ABI ${abi})`);
}
if (missing.length > 0) {
  console.error(`check-prebuilds: ${dir} has no addon for ${missing.join(', ')}; run \`npm run prebuilds\` before packing.`);
  process.exit(1);
}
// A binary older than a source it is built from would ship old code.
const sources = ['binding.gyp', ...fs.readdirSync(path.join(root, 'native')).filter((f) => /\.(cc|h|json)$/.test(f)).map((f) => path.join('native', f))];
const newestSource = Math.max(...sources.map((f) => fs.statSync(path.join(root, f)).mtimeMs));
const stale = have.filter((f) => fs.statSync(path.join(dir, f)).mtimeMs < newestSource);
if (stale.length > 0) {
  console.error(`check-prebuilds: ${stale.join(', ')} older than native/ (changed since): run \`npm run prebuilds\` before packing.`);
  process.exit(1);
}
console.log(`check-prebuilds: ${have.join(', ')}`);
