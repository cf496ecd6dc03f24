/** What a command's action reports back to {@link main}: its exit status. */
export interface CommandResult {
  status: number;
}
