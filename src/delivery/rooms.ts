/** socket.io room of every connection joined to a thread. */
export function threadRoom(threadId: string): string {
  return `thread:${threadId}`;
}

/** socket.io room of every connection of a user. */
export function userRoom(userId: string): string {
  return `user:${userId}`;
}
