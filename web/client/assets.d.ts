/** Style sheets imported for their effect: Bun.build bundles them into the console's CSS file. */
declare module "*.css";
