// Run the CLI from source without building: node --import tsx cli/dev.ts <command> ...
import { main } from "./main.js";
import { exitQuietlyOnClosedOutput } from "./io.js";

exitQuietlyOnClosedOutput();
process.exitCode = await main(process.argv.slice(2));
