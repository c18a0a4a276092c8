// Marks each build's module format: the package itself is CommonJS (the napi-rs loader in
// native/ is CommonJS), so the ESM build needs its own package.json.
import { writeFileSync } from 'node:fs';

writeFileSync(new URL('../dist/esm/package.json', import.meta.url), '{"type": "module"}\n');
writeFileSync(new URL('../dist/cjs/package.json', import.meta.url), '{"type": "commonjs"}\n');
