import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)

describe('quick-start example', () => {
  it('runs on the embedded backend without Java', async () => {
    const script = fileURLToPath(new URL('../../examples/quick-start.ts', import.meta.url))
    // PATH holds only the directory of node, so neither java nor mvn can be found.
    const nodeDirectory = fileURLToPath(new URL('.', `file://${process.execPath}`))
    const { stdout } = await run(process.execPath, ['--import', 'tsx', script], {
      env: { PATH: nodeDirectory, HOME: process.env.HOME ?? '/tmp' },
      timeout: 30_000,
    })
    expect(stdout).toContain('player 1 moved to (0.5, 2)')
    expect(stdout).toContain('player 2 moved to (-1, 4.25)')
    expect(stdout).toContain('decode error at moves/')
    expect(stdout.trim().split('\n').at(-1)).toBe('2 events, 1 decode error')
  })
})
