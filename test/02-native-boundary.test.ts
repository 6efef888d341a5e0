/**
 * The boundary between lib/ and the addon (issue 12, item 11): lib/native.ts
 * declares by hand what the addon exports, so this compares the declaration
 * with the addon that loads, member by member, reading the declaration with
 * the TypeScript compiler rather than a second hand-written list.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

import { nativeAddon, ROOT } from './helpers';

/** The member names of each interface declared in lib/native.ts. */
function declaredInterfaces(): Map<string, string[]> {
  const file = path.join(ROOT, 'lib', 'native.ts');
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out = new Map<string, string[]>();
  source.forEachChild((node) => {
    if (!ts.isInterfaceDeclaration(node)) return;
    const names = node.members.map((m) => (m.name !== undefined && ts.isIdentifier(m.name) ? m.name.text : '')).filter(Boolean);
    out.set(node.name.text, names.sort());
  });
  return out;
}

/** A class's own methods, as the addon defines them on its prototype. */
function methodsOf(cls: { prototype: object }): string[] {
  return Object.getOwnPropertyNames(cls.prototype)
    .filter((n) => n !== 'constructor')
    .sort();
}

describe('lib/native.ts declares what the addon exports', () => {
  const declared = declaredInterfaces();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const addon = nativeAddon() as Record<string, any>;

  it('the module: every export declared in NativeAddon, and nothing declared that is missing', () => {
    expect(Object.keys(addon).sort()).to.deep.equal(declared.get('NativeAddon'));
  });

  for (const [cls, iface] of [
    ['Listener', 'NativeListener'],
    ['Connection', 'NativeConnection'],
    ['ChildWatch', 'NativeChildWatch'],
  ] as const) {
    it(`${cls}: its methods are exactly ${iface}'s`, () => {
      expect(addon[cls], `the addon exports ${cls}`).to.be.a('function');
      expect(methodsOf(addon[cls])).to.deep.equal(declared.get(iface));
    });
  }

  it('constants: the ones lib/ reads from the addon are there, as numbers', () => {
    const c = addon.constants as Record<string, unknown>;
    for (const name of declared.get('NativeConstants') ?? []) expect(c[name], name).to.be.a('number');
    expect(declared.get('NativeConstants'), 'NativeConstants is declared').to.be.an('array').that.is.not.empty;
  });
});
