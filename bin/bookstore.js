#!/usr/bin/env node
// The `bookstore` command: loads the TypeScript sources through tsx and runs the CLI, which is the
// server's commands (src/cli/main.ts) and the tools' (tools/cli.ts).
import { register } from 'tsx/esm/api'

register()
const { bookstoreCli } = await import('../src/cli/main.ts')
const { addToolCommands } = await import('../tools/cli.ts')
await addToolCommands(bookstoreCli(process.env), process.env).parseAsync(process.argv)
