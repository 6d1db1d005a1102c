// Validates GLB files with Khronos' gltf-validator and prints one JSON line per
// file: {"file", "errors", "warnings", "messages"} (messages: errors only).
// Usage: ROAD_GLTF_DIR=<folder with node_modules/gltf-validator> node validate.mjs FILE...
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(join(process.env.ROAD_GLTF_DIR ?? '.', 'resolve-from-here.js'));
const validator = require('gltf-validator');

for (const file of process.argv.slice(2)) {
  const report = await validator.validateBytes(new Uint8Array(readFileSync(file)), { maxIssues: 100 });
  const messages = report.issues.messages
    .filter((message) => message.severity === 0)
    .map((message) => `${message.code} ${message.pointer ?? ''}: ${message.message}`);
  console.log(JSON.stringify({
    file,
    errors: report.issues.numErrors,
    warnings: report.issues.numWarnings,
    messages,
  }));
}
