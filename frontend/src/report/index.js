/** The report panel (placeholder until the feature lands). */
export function install(viewer) {
  void viewer;
}
