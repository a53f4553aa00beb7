// Text rules shared by every input path (API bodies, query strings, CSV rows).

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Whether a string holds a UTF-16 surrogate that is not half of a pair. Such a string has no UTF-8 form:
 * stores and wire formats replace it with U+FFFD, so two different strings would come back the same.
 */
export const hasLoneSurrogate = (s: string): boolean => LONE_SURROGATE.test(s);
