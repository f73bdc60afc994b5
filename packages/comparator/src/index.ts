/** Package entry: explicit named re-exports only. */
export const PACKAGE_NAME = "@vf/comparator";
