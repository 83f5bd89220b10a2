const THREAD_ROOM_PREFIX = 'thread:';

/** socket.io room of every connection joined to a thread. */
export function threadRoom(threadId: string): string {
  return `${THREAD_ROOM_PREFIX}${threadId}`;
}

/** The thread a room belongs to, or null for other rooms (users, socket ids). */
export function threadIdOfRoom(room: string): string | null {
  return room.startsWith(THREAD_ROOM_PREFIX) ? room.slice(THREAD_ROOM_PREFIX.length) : null;
}

/** socket.io room of every connection of a user. */
export function userRoom(userId: string): string {
  return `user:${userId}`;
}
