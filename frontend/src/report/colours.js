/** A stable colour per user for cursors and presence (readable on the dark theme). */
const PALETTE = ['#4fc3f7', '#ffb74d', '#81c784', '#f06292', '#ba68c8', '#e57373', '#4db6ac', '#fff176'];

export function colourFor(username) {
  let hash = 0;
  for (const ch of String(username)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return PALETTE[hash % PALETTE.length];
}
