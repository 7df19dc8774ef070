import './ui/workbench-app';
