/*
 * capability — what the IMAP mail process announces after login (CAPABILITY and the
 * [CAPABILITY] code of the login reply). Lists exactly what the engine implements.
 * RFCs: 3501, 2177 IDLE, 2342 NAMESPACE, 2971 ID, 3502 MULTIAPPEND, 3691 UNSELECT,
 * 4315 UIDPLUS, 4731 ESEARCH, 5161 ENABLE, 5182 SEARCHRES, 5258 LIST-EXTENDED, 5819
 * LIST-STATUS, 6154 SPECIAL-USE, 6851 MOVE, 7162 CONDSTORE, 7888 LITERAL+, 7889 APPENDLIMIT,
 * 3348 CHILDREN, 5032 WITHIN.
 */
export function mailCapabilities(appendLimit: number): string[] {
  return [
    "IMAP4rev1",
    "LITERAL+",
    "ID",
    "ENABLE",
    "IDLE",
    "NAMESPACE",
    "UNSELECT",
    "CHILDREN",
    "UIDPLUS",
    "MOVE",
    "MULTIAPPEND",
    "CONDSTORE",
    "ESEARCH",
    "SEARCHRES",
    "WITHIN",
    "LIST-EXTENDED",
    "LIST-STATUS",
    "SPECIAL-USE",
    appendLimit > 0 ? `APPENDLIMIT=${appendLimit}` : "APPENDLIMIT",
  ];
}
