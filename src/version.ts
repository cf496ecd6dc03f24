/** The sfx release, kept equal to package.json's `version` (a test checks). */
export const VERSION = "0.6.0";
