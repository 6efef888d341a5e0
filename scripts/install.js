#!/usr/bin/env node
// npm's install step for the package: node-gyp-build uses the prebuilt addon
// in prebuilds/ when it loads on this Node, and builds from source
// (node-gyp: python3, make, g++) only when none does.
//
// A failed source build does not fail the install. The package works
// without the addon: `socketserver/js` serves on node:net / node:dgram, and
// the native transport then throws ERR_SOCKETSERVER_NATIVE, which says what
// is missing. That is also what an install with --ignore-scripts gives (npm
// 12 runs no dependency's install script unless allowed), so both ways end
// the same. SOCKETSERVER_REQUIRE_NATIVE=1 makes a failed build fail the
// install, for builds (like this project's CI) that need the addon.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const bin = path.join(path.dirname(require.resolve('node-gyp-build/package.json')), 'bin.js');
const r = spawnSync(process.execPath, [bin], { stdio: 'inherit' });
if (r.status === 0) process.exit(0);

const how = r.error ? r.error.message : `exit status ${r.status}${r.signal ? `, signal ${r.signal}` : ''}`;
process.stderr.write(
  `socketserver: no prebuilt addon fits Node ${process.version} (ABI ${process.versions.modules}, ` +
    `${process.platform}-${process.arch}), and building it from source failed (${how}).\n` +
    `socketserver: 'socketserver/js' works; the native transport will throw ERR_SOCKETSERVER_NATIVE ` +
    `until \`npm rebuild socketserver\` succeeds (it needs python3, make and g++).\n`,
);
process.exit(process.env.SOCKETSERVER_REQUIRE_NATIVE === '1' ? 1 : 0);
