/**
 * Failure the user can fix, such as a missing tool or a busy port. The CLI
 * prints only its message, so the message names the cause and the fix.
 */
export class LauncherError extends Error {
  override name = 'LauncherError';
}
