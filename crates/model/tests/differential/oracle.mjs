// Oracle for differential tests: Microsoft's DTDL parser (DTDLParser for
// .NET compiled to WebAssembly, npm @digicatapult/dtdl-parser).
//
// Reads one JSON array of DTDL documents per line on stdin (one upload
// batch), writes one line per input on stdout: {"valid": true} or
// {"valid": false, "error": "<first line of the parser's message>"}.
// Usage: node oracle.mjs < batches.jsonl > verdicts.jsonl
import { getInterop } from '@digicatapult/dtdl-parser'
import readline from 'node:readline'

// The parser reports a JSON document; keep what a reader needs: the causes
// of parsing errors, or the identifiers a resolution error could not find.
function summary(text) {
  try {
    const report = JSON.parse(text)
    if (Array.isArray(report.Errors)) return report.Errors.map((e) => e.Cause).join(' | ').slice(0, 600)
    if (Array.isArray(report.UndefinedIdentifiers)) return 'unresolved: ' + report.UndefinedIdentifiers.join(', ')
  } catch {
    // not JSON: fall through to the first line
  }
  return text.split('\n')[0].slice(0, 600)
}

const parser = await getInterop()
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
const out = []
for await (const line of rl) {
  if (line.trim() === '') continue
  let verdict
  try {
    parser.parse(line)
    verdict = { valid: true }
  } catch (err) {
    const text = String(err && err.message ? err.message : err)
    verdict = { valid: false, error: summary(text) }
  }
  process.stdout.write(JSON.stringify(verdict) + '\n')
}
